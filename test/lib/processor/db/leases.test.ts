import { fairShare } from '../../../../lib/processor/db/leases';

describe('fair share of shards', () => {
  test.each([
    [4, 2, 2],
    [4, 3, 2],
    [5, 2, 3],
    [1, 4, 1],
    [0, 2, 0],
    [4, 0, 4],
  ])('%i shards, %i workers -> %i each', (shards, workers, share) => {
    expect(fairShare(shards, workers)).toBe(share);
  });
});

describe('fairShare with a rank: the shares add up to the shards', () => {
  test.each([
    [4, 2, [2, 2]],
    [4, 3, [2, 1, 1]],
    [5, 2, [3, 2]],
    [1, 3, [1, 0, 0]],
    [0, 2, [0, 0]],
    [8, 3, [3, 3, 2]],
  ])('%i shards, %i workers -> %j', (shards, workers, shares) => {
    const got = shares.map((_, rank) => fairShare(shards, workers, rank));
    expect(got).toEqual(shares);
    expect(got.reduce((a, b) => a + b, 0)).toBe(shards);
  });
  test('a rank outside the live list (not yet seen) gets the smallest share', () => {
    expect(fairShare(5, 2, 7)).toBe(2);
  });
});
