import type { PlatformProvider } from '../platform.ts';
import { attachLocal } from './attach.ts';
import { LocalPlatform } from './local-platform.ts';

export const localProvider: PlatformProvider = {
  kind: 'local',
  description: 'child processes on 127.0.0.1 with a supervisor and built-in fault proxies (needs only Node)',
  create: (options) => new LocalPlatform(options),
  attach: attachLocal,
};
