// The platform contract on the docker platform (Testcontainers: a network per run, Redis, Toxiproxy,
// Prometheus), the same suite as on local, unchanged. Skipped, with the reason, without an engine.
import { platformContract } from '../platform-contract.shared.ts';
import { describeDocker } from './support.ts';

describeDocker('docker platform', () => {
  // Container start-up on 2 shared cores: generous bounds (the suite measures nothing by them).
  platformContract({ kind: 'docker', startTimeoutMs: 120_000, replaceTimeoutMs: 60_000 });
});
