// The one door to platforms: everything outside src/platforms creates, attaches to and lists
// platforms here. A new platform is a folder with a PlatformProvider and one line in PROVIDERS.
import { dockerProvider } from './docker/index.ts';
import { kubernetesProvider } from './kubernetes/index.ts';
import { localProvider } from './local/index.ts';
import type {
  AttachedPlatform,
  AttachRecord,
  PipelineOptions,
  Platform,
  PlatformKind,
  PlatformProvider,
} from './platform.ts';

const PROVIDERS: Partial<Record<PlatformKind, PlatformProvider>> = {
  local: localProvider,
  docker: dockerProvider,
  kubernetes: kubernetesProvider,
};

export { faultlineHome, listActive } from './active.ts';
export type * from './platform.ts';

export function platformKinds(): PlatformKind[] {
  return Object.keys(PROVIDERS) as PlatformKind[];
}

export function isPlatformKind(kind: string): kind is PlatformKind {
  return Object.hasOwn(PROVIDERS, kind);
}

function provider(kind: string): PlatformProvider {
  if (!isPlatformKind(kind))
    throw new Error(`unknown platform "${kind}" (available: ${platformKinds().join(', ')})`);
  return PROVIDERS[kind] as PlatformProvider;
}

export function createPlatform(kind: string, options: PipelineOptions): Platform {
  return provider(kind).create(options);
}

/** Reaches a pipeline started elsewhere (or by a runner that died) from its attach record. */
export function attachPlatform(record: AttachRecord): Promise<AttachedPlatform> {
  return provider(record.platform).attach(record);
}
