// MLflow search filters, ordering and page tokens of the registry (src/pipeline/registry/search.ts),
// without a server or Python: the compat test drives the same code through MLflow's own client.
import { describe, expect, it } from 'vitest';
import { HttpError } from '../src/pipeline/common/service.ts';
import { comparator, matches, pageOffset, pageToken, parseFilter } from '../src/pipeline/registry/search.ts';

const rows = [
  {
    name: 'fraud-primary',
    run_id: 'r1',
    source: 'mlflow-artifacts:/a',
    tags: [{ key: 'team', value: 'fraud' }],
  },
  { name: 'fraud-fallback', run_id: 'r2', source: 'mlflow-artifacts:/b', tags: [] },
  { name: 'Churn', run_id: 'r1', source: 's3://x', tags: [{ key: 'a key', value: 'v' }] },
  { name: 'my-prompt', tags: [{ key: 'mlflow.prompt.is_prompt', value: 'true' }] },
];
const names = (kind: 'registered-models' | 'model-versions', f: string) =>
  rows.filter((r) => matches(r, parseFilter(kind, f))).map((r) => r.name);

function refused(fn: () => unknown, field: string, pattern: RegExp) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HttpError);
    expect((e as HttpError).status).toBe(400);
    expect((e as HttpError).field).toBe(field);
    expect((e as HttpError).message).toMatch(pattern);
    return;
  }
  throw new Error('expected a 400');
}

describe('registry search filters', () => {
  it('name =, !=, LIKE (case-sensitive), ILIKE, IN; AND; quotes of either kind', () => {
    expect(names('registered-models', "name = 'fraud-primary'")).toEqual(['fraud-primary']);
    expect(names('registered-models', 'name != "fraud-primary"')).toEqual(['fraud-fallback', 'Churn']);
    expect(names('registered-models', "name LIKE 'fraud-%'")).toEqual(['fraud-primary', 'fraud-fallback']);
    expect(names('registered-models', "name LIKE 'churn'")).toEqual([]);
    expect(names('registered-models', "name ILIKE 'churn'")).toEqual(['Churn']);
    expect(names('registered-models', "name like 'fraud-_____'")).toEqual([]);
    expect(names('registered-models', "name LIKE 'fraud-p_imary'")).toEqual(['fraud-primary']);
    expect(names('registered-models', "name IN ('Churn', 'fraud-fallback')")).toEqual([
      'fraud-fallback',
      'Churn',
    ]);
    expect(names('registered-models', "name LIKE 'fraud%' and tags.team = 'fraud'")).toEqual([
      'fraud-primary',
    ]);
    // LIKE is a pattern, not a regular expression.
    expect(names('registered-models', "name LIKE 'fraud.*'")).toEqual([]);
  });

  it('tags (plain, dotted, backticked); a missing tag matches nothing; prompts only when asked', () => {
    expect(names('registered-models', "tags.`a key` = 'v'")).toEqual(['Churn']);
    expect(names('registered-models', "tags.team != 'x'")).toEqual(['fraud-primary']);
    expect(names('registered-models', "tag.`mlflow.prompt.is_prompt` != 'true'")).toEqual([
      'fraud-primary',
      'fraud-fallback',
      'Churn',
    ]);
    expect(names('registered-models', "tags.mlflow.prompt.is_prompt = 'true'")).toEqual(['my-prompt']);
  });

  it('versions: run_id and source_path', () => {
    expect(names('model-versions', "run_id = 'r1'")).toEqual(['fraud-primary', 'Churn']);
    expect(names('model-versions', "run_id IN ('r2')")).toEqual(['fraud-fallback']);
    expect(names('model-versions', "source_path LIKE 's3://%'")).toEqual(['Churn']);
  });

  it('refuses what MLflow refuses, naming the filter field', () => {
    refused(() => parseFilter('registered-models', "run_id = 'r1'"), 'filter', /unknown attribute "run_id"/);
    refused(
      () => parseFilter('registered-models', "name = 'a' OR name = 'b'"),
      'filter',
      /OR is not supported/,
    );
    refused(() => parseFilter('registered-models', "name = 'a"), 'filter', /unterminated/);
    refused(() => parseFilter('registered-models', 'name = a'), 'filter', /quoted string/);
    refused(() => parseFilter('registered-models', "name = 'a' AND"), 'filter', /dangling AND/);
    refused(() => parseFilter('registered-models', "tags.team IN ('a')"), 'filter', /IN is supported/);
    refused(() => parseFilter('model-versions', "name ~ 'a'"), 'filter', /unexpected "~"/);
    refused(() => parseFilter('model-versions', 'x'.repeat(10_001)), 'filter', /longer than/);
  });
});

describe('registry search ordering and paging', () => {
  const vs = [
    { name: 'b', version: 1, creation_timestamp: 1, last_updated_timestamp: 5 },
    { name: 'a', version: 2, creation_timestamp: 2, last_updated_timestamp: 5 },
    { name: 'a', version: 1, creation_timestamp: 3, last_updated_timestamp: 9 },
  ];
  const order = (by: string[]) =>
    [...vs].sort(comparator('model-versions', by)).map((v) => `${v.name}${v.version}`);

  it("MLflow's default for versions: last updated first, then name, then newest version", () => {
    expect(order([])).toEqual(['a1', 'a2', 'b1']);
    expect(order(['version_number ASC'])).toEqual(['a1', 'b1', 'a2']);
    expect(order(['name DESC'])).toEqual(['b1', 'a2', 'a1']);
    refused(() => comparator('model-versions', ['size DESC']), 'order_by', /invalid order_by/);
    refused(() => comparator('model-versions', ['name', 'name DESC']), 'order_by', /duplicate/);
  });

  it('page tokens are base64 offsets, and a forged one is a 400 naming page_token', () => {
    expect(pageOffset(pageToken(42))).toBe(42);
    expect(pageOffset(undefined)).toBe(0);
    for (const bad of [
      'nope',
      pageToken(-1),
      Buffer.from('{"offset":"1"}').toString('base64'),
      'x'.repeat(500),
    ])
      refused(() => pageOffset(bad), 'page_token', /invalid page token/);
  });
});
