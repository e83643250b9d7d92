import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { entryResourceTexts } from '../../../../lib/processor/fhir/bundle-text';

const CORPUS = join(__dirname, '../../../fixtures/fhir-corpus');

/** What JSON.parse makes of the Bundle's entries: each entry's resource, or undefined (also for an entry that is no object). */
const parsedResources = (text: string) =>
  ((JSON.parse(text) as { entry?: unknown[] }).entry ?? []).map((e) =>
    typeof e === 'object' && e !== null && !Array.isArray(e) ? (e as { resource?: unknown }).resource : undefined,
  );
const texts = (text: string) => entryResourceTexts(text).map((t) => (t === undefined ? undefined : (JSON.parse(t) as unknown)));

describe("each Bundle entry's resource text", () => {
  test('is the slice of the text JSON.parse reads as the resource, for every Bundle of the corpus', () => {
    const bundles = readdirSync(CORPUS, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.json'))
      .map((f) => readFileSync(join(CORPUS, f), 'utf8'))
      .filter((t) => (JSON.parse(t) as { resourceType?: unknown }).resourceType === 'Bundle');
    expect(bundles.length).toBeGreaterThan(5);
    let entries = 0;
    for (const text of bundles) {
      const sliced = entryResourceTexts(text);
      for (const t of sliced) if (t !== undefined) expect(text).toContain(t);
      expect(texts(text)).toEqual(parsedResources(text));
      entries += sliced.length;
    }
    expect(entries).toBeGreaterThan(50);
  });

  test('keeps the text exactly as sent: whitespace, escapes and numbers', () => {
    const resource = '{ "resourceType" : "Observation",\n\t"valueQuantity": {"value": 1.50e0, "unit": "a \\"}\\" ]["}, "x": [ ] }';
    const text = `{"resourceType":"Bundle","type":"collection","entry":[ {"fullUrl":"urn:x","resource": ${resource} , "search": {"score": 1}} ]}`;
    expect(entryResourceTexts(text)).toEqual([resource]);
  });

  test('agrees with JSON.parse where keys repeat or are escaped, and where entries have no resource', () => {
    const text = [
      '{"entry": [{"resource": {"a": 1}}], "type": "batch", "entr\\u0079": [',
      '{"request": {"url": "x"}},',
      '{"resource": {"first": true}, "resource": {"last": [1, {"b": null}]}},',
      '{"reso\\u0075rce": {"escaped": "key"}, "fullUrl": "urn:y"},',
      '{"resource": "not an object"}, 7, "s", [true], null,',
      '{"resource": {"backslashes": "\\\\\\\\", "q": "\\\\\\""}},',
      '{}, {"resource": false}',
      '], "total": 12}',
    ].join('\n');
    expect(texts(text)).toEqual(parsedResources(text));
    expect(entryResourceTexts(text)).toHaveLength(11);
  });

  test('is empty without an entry array', () => {
    expect(entryResourceTexts('{"resourceType": "Bundle", "type": "collection"}')).toEqual([]);
    expect(entryResourceTexts('{ }')).toEqual([]);
    expect(entryResourceTexts('{"entry": []}')).toEqual([]);
    expect(entryResourceTexts('{"entry": {"resource": {}}}')).toEqual([]);
    expect(entryResourceTexts('{"entry": [{"resource": {}}], "entry": 5}')).toEqual([]);
  });
});
