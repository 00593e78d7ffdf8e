// Container entry point: one image runs every pipeline service. The service is the first argument
// (`docker run faultline/pipeline:<version> registry`) or, without one, SERVICE. Each service is then
// configured by environment variables exactly as when the local platform starts it as a child
// process (see its main.ts); this module only chooses which main.ts to load.
import { SERVICES } from './topology.ts';

const RUNNABLE: readonly string[] = [...SERVICES, 'trainer'];

const name = process.argv[2] ?? process.env.SERVICE;
if (!name || !RUNNABLE.includes(name)) {
  process.stderr.write(
    `pipeline entrypoint: ${name ? `unknown service "${name}"` : 'no service named'}; ` +
      `pass one of ${RUNNABLE.join(', ')} as the command (or set SERVICE)\n`,
  );
  process.exit(2);
}
await import(`./${name}/main.ts`);
