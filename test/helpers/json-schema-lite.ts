// A small, independent JSON Schema (2020-12) checker for the keywords report.schema.json uses, so the
// tests validate report.json against the published file itself rather than against the zod schema that
// generated it. Unknown keywords fail loudly instead of being ignored.
type Schema = Record<string, unknown> | boolean;

const KNOWN = new Set([
  '$schema',
  '$id',
  'title',
  'description',
  'x-faultline-schemaVersion',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'enum',
  'const',
  'anyOf',
  'oneOf',
  'minLength',
  'minimum',
  'maximum',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

export function validate(schema: Schema, value: unknown, path = '$'): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${path}: not allowed`];
  const errs: string[] = [];
  for (const k of Object.keys(schema))
    if (!KNOWN.has(k)) throw new Error(`json-schema-lite: unsupported keyword ${k} at ${path}`);
  const s = schema as Record<string, any>;
  if (s.type !== undefined) {
    const types: string[] = Array.isArray(s.type) ? s.type : [s.type];
    const t = typeOf(value);
    if (!types.some((x) => x === t || (x === 'number' && t === 'integer')))
      return [`${path}: expected ${types.join('|')}, found ${t}`];
  }
  if (s.const !== undefined && value !== s.const) errs.push(`${path}: expected ${JSON.stringify(s.const)}`);
  if (s.enum && !s.enum.includes(value)) errs.push(`${path}: not one of ${s.enum.join(', ')}`);
  if (typeof value === 'string' && s.minLength !== undefined && value.length < s.minLength)
    errs.push(`${path}: shorter than ${s.minLength}`);
  if (typeof value === 'number') {
    if (s.minimum !== undefined && value < s.minimum) errs.push(`${path}: below ${s.minimum}`);
    if (s.maximum !== undefined && value > s.maximum) errs.push(`${path}: above ${s.maximum}`);
  }
  if (s.anyOf && !s.anyOf.some((x: Schema) => validate(x, value, path).length === 0))
    errs.push(`${path}: matches none of anyOf`);
  if (s.oneOf && s.oneOf.filter((x: Schema) => validate(x, value, path).length === 0).length !== 1)
    errs.push(`${path}: must match exactly one of oneOf`);
  if (Array.isArray(value) && s.items) {
    for (const [i, v] of value.entries()) errs.push(...validate(s.items, v, `${path}[${i}]`));
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const r of s.required ?? []) if (!(r in obj)) errs.push(`${path}.${r}: required`);
    for (const [k, v] of Object.entries(obj)) {
      if (s.propertyNames) errs.push(...validate(s.propertyNames, k, `${path}.${k} (name)`));
      if (s.properties && k in s.properties) errs.push(...validate(s.properties[k], v, `${path}.${k}`));
      else if (s.additionalProperties !== undefined)
        errs.push(...validate(s.additionalProperties, v, `${path}.${k}`));
    }
  }
  return errs;
}
