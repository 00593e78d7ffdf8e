// JSON Schema of the file formats (`faultline schema`), for editor completion and validation, e.g.
// `# yaml-language-server: $schema=./faultline.schema.json` at the top of a scenario file.
// It describes the syntax only; cross-field rules (fault inside the load, runbook exists) are
// checked by `faultline validate`.
import { z } from 'zod';
import { ScenarioSchema, SuiteSchema } from './schema.ts';

export const SCHEMA_ID = 'https://faultline.dev/schemas/faultline-v1.json';

function toJson(schema: z.ZodType): Record<string, unknown> {
  // io: 'input' describes what is written in the file (`15s`), not the parsed value (15000).
  return z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
}

/** Schema of a scenario file. */
export const scenarioJsonSchema = (): Record<string, unknown> => toJson(ScenarioSchema);
/** Schema of a suite (game day) file. */
export const suiteJsonSchema = (): Record<string, unknown> => toJson(SuiteSchema);

/** One schema accepting either document kind (what `faultline schema` prints). */
export function jsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = toJson(z.union([ScenarioSchema, SuiteSchema]));
  return { $schema, $id: SCHEMA_ID, title: 'Faultline scenario or suite (apiVersion faultline/v1)', ...rest };
}
