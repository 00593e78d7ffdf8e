// Seeded synthetic PaySim-like transactions and the user population behind them. The generative
// model itself (users, one transaction, the payload stream) lives in src/load/portable.ts, a
// dependency-free module that k6 scripts import too, so the trainer, the built-in load generator and
// an exported k6 script draw from one definition; see its header for the generative story.
import {
  drawTransaction,
  type GenerationShift,
  type LabeledTransaction,
  Rng,
  type SyntheticUser,
} from '../../load/portable.ts';

export type {
  GenerationShift,
  LabeledTransaction,
  PayloadGeneratorOptions,
  SyntheticUser,
} from '../../load/portable.ts';
export {
  DEFAULT_POPULATION_SEED,
  DEFAULT_POPULATION_SIZE,
  drawTransaction,
  generateUsers,
  PayloadGenerator,
  Rng,
  riskLogit,
  userId,
} from '../../load/portable.ts';

/** `n` labelled transactions for users picked uniformly, deterministic for a seed. */
export function generateTransactions(
  seed: number,
  users: readonly SyntheticUser[],
  n: number,
  shift: GenerationShift = {},
): LabeledTransaction[] {
  if (users.length === 0) throw new Error('generateTransactions: the user population is empty');
  const rng = new Rng(seed * 104729 + 17);
  const out: LabeledTransaction[] = new Array(n);
  for (let i = 0; i < n; i++)
    out[i] = drawTransaction(rng, users[rng.int(0, users.length - 1)], `t${seed}-${i}`, shift);
  return out;
}
