import { runParentDir } from './global-setup';

describe("the Jest run's temporary folder", () => {
  const GiB = BigInt(1024 ** 3);
  const tmpfs = (freeGiB: number) => () => ({ type: 0x01021994, bavail: (BigInt(freeGiB) * GiB) / BigInt(4096), bsize: BigInt(4096) });
  const base = { env: {}, shm: '/dev/shm', fallback: '/var/tmp' };

  test('goes to memory when /dev/shm is a tmpfs with 2 GiB free', () => {
    expect(runParentDir({ ...base, statfs: tmpfs(2) })).toBe('/dev/shm');
  });

  test('stays in the temp directory when /dev/shm is small, on disk or missing, or TMPDIR says where', () => {
    expect(runParentDir({ ...base, statfs: tmpfs(1) })).toBe('/var/tmp');
    // ext4's magic number: a /dev/shm that is only a folder on disk.
    expect(runParentDir({ ...base, statfs: () => ({ type: 0xef53, bavail: BigInt(100) * GiB, bsize: BigInt(1) }) })).toBe('/var/tmp');
    expect(runParentDir({ ...base, shm: '/no/such/folder' })).toBe('/var/tmp');
    expect(runParentDir({ ...base, env: { TMPDIR: '/var/tmp' }, statfs: tmpfs(8) })).toBe('/var/tmp');
  });
});
