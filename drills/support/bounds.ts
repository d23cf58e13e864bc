/**
 * Wall-clock bounds of the drills' assertions. A bound the product promises (fails within its Redis
 * timeouts, recovers within its retry backoff) is measured from outside, through the gateway and the
 * sockets, so it also holds whatever this machine adds to any request. `withMachineDelay` adds that:
 * twice the drill's own typical request latency (`Traffic.machineDelayMs`, first-attempt acks), which is
 * next to nothing on a quiet machine (the bound stays the product's) and seconds on a busy one. What the
 * bounds still catch: a request that hangs (it meets the Lambda timeout and is answered by the gateway,
 * not by the function), a service that does not recover (no ack at all: `undefined`), and a product
 * several times slower than its own bound relative to the requests around it.
 */
export function withMachineDelay(productBoundMs: number, machineDelayMs: number): number {
  return productBoundMs + 2 * machineDelayMs;
}
