// Validation gates of the model-server: the fetched online features (before they reach the primary
// model) and model artifacts (before they replace a serving model).
import { HttpError } from '../common/service.ts';
import { parseBody } from '../common/validate.ts';
import {
  type FeatureStatus,
  ModelArtifact,
  type NumericSpec,
  STORE_FEATURES,
  type StoreFeatures,
  Transaction,
} from '../schema.ts';

/**
 * A scoring request body → Transaction, or a 400 naming the field. Unknown fields are named by their
 * own path (zod reports them on the parent object, which would say only "(body)").
 */
export function parseTransaction(body: unknown): Transaction {
  const r = Transaction.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    const field = [...issue.path, issue.keys[0]].map(String).join('.');
    throw new HttpError(400, 'INVALID_PARAMETER_VALUE', `${field}: unknown field`, field);
  }
  return parseBody(Transaction, body);
}

export type FeatureFailure = 'features_missing' | 'features_stale' | 'features_invalid';

export interface FeatureCheck {
  /** Store features ready for deriveInputs, when every one passed the gate. */
  values?: StoreFeatures;
  /** Why the primary model cannot use them (the first failing feature, in STORE_FEATURES order). */
  reason?: FeatureFailure;
  feature?: string;
  detail?: string;
  /** Individually valid values (also when another feature failed): these feed the drift monitor. */
  valid: Array<[string, number]>;
}

/**
 * Checks the feature-server's `features` object: every store feature must be PRESENT, a finite
 * number, within its declared range and an integer where declared.
 */
export function checkStoreFeatures(features: unknown): FeatureCheck {
  const valid: Array<[string, number]> = [];
  const values: StoreFeatures = {};
  let reason: FeatureFailure | undefined;
  let feature: string | undefined;
  let detail: string | undefined;
  const obj =
    typeof features === 'object' && features !== null && !Array.isArray(features)
      ? (features as Record<string, unknown>)
      : undefined;
  for (const spec of STORE_FEATURES) {
    const problem = checkOne(spec, obj?.[spec.name]);
    if (typeof problem === 'number') {
      valid.push([spec.name, problem]);
      values[spec.name] = problem;
    } else if (reason === undefined) {
      reason = problem[0];
      detail = problem[1];
      feature = spec.name;
    }
  }
  return reason === undefined ? { values, valid } : { reason, feature, detail, valid };
}

/** The value when usable, else [failure, detail]. */
function checkOne(spec: NumericSpec, entry: unknown): number | [FeatureFailure, string] {
  if (typeof entry !== 'object' || entry === null) return ['features_missing', 'absent from the response'];
  const { value, status } = entry as { value?: unknown; status?: FeatureStatus };
  switch (status) {
    case 'PRESENT':
      break;
    case 'NOT_FOUND':
    case 'NULL_VALUE':
      return ['features_missing', `status ${status}`];
    case 'OUTSIDE_MAX_AGE':
      return ['features_stale', `status ${status}`];
    default:
      return ['features_invalid', `unknown status ${JSON.stringify(status)}`];
  }
  // A PRESENT null can only come from a store that mislabels it; it is still missing data.
  if (value === null || value === undefined) return ['features_missing', 'null value'];
  if (typeof value !== 'number') {
    return [
      'features_invalid',
      typeof value === 'string'
        ? `expected a number, found the string ${JSON.stringify(value.slice(0, 32))}`
        : `expected a number, found ${Array.isArray(value) ? 'array' : typeof value}`,
    ];
  }
  if (!Number.isFinite(value)) return ['features_invalid', `not finite (${value})`];
  if (value < spec.min || value > spec.max)
    return ['features_invalid', `${value} outside [${spec.min}, ${spec.max}]`];
  if (spec.integer && !Number.isInteger(value)) return ['features_invalid', `${value} is not an integer`];
  return value;
}

export type ArtifactCheck = { ok: true; artifact: ModelArtifact } | { ok: false; error: string };

/**
 * Structural validation of a downloaded `model.json` for the given role. Deliberately structural only:
 * a schema-valid artifact that cannot score (e.g. an input the server does not derive) still loads and
 * then fails at scoring time, which the fallback (reason primary_error) and the controller's rollback
 * are there to handle.
 */
export function checkArtifact(raw: Buffer | string, role: 'primary' | 'fallback'): ArtifactCheck {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (e) {
    return { ok: false, error: `model.json: invalid JSON (${(e as Error).message})` };
  }
  const r = ModelArtifact.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0];
    return {
      ok: false,
      error: `model.json: ${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`,
    };
  }
  const a = r.data;
  if (a.role !== role) return { ok: false, error: `model.json: role is "${a.role}", expected "${role}"` };
  const n = a.inputs.length;
  for (const key of ['weights', 'mean', 'std'] as const) {
    if (a[key].length !== n)
      return { ok: false, error: `model.json: ${key} has ${a[key].length} entries for ${n} inputs` };
  }
  if (!(a.thresholds.review <= a.thresholds.decline)) {
    return { ok: false, error: 'model.json: thresholds.review must not exceed thresholds.decline' };
  }
  return { ok: true, artifact: a };
}
