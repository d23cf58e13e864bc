import type { Containers } from './containers';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __integrationContainers?: Containers }).__integrationContainers?.stop();
}
