// The platform contract on the embedded local platform (child processes, supervisor, built-in proxies).
import { platformContract } from './platform-contract.shared.ts';

platformContract({ kind: 'local' });
