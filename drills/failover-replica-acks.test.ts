/**
 * Drill 1 with replica-confirmed acks (short form): the planned failover loses no acknowledged message
 * when every ack waited for the replica (the node that is promoted at the next failover).
 */
import { FAILOVER_SHORT, runFailoverDrill } from './failover';
import { withMachineDelay } from './support/bounds';

describe('drill: Redis primary failover with MIN_REPLICA_ACKS=1', () => {
  it('loses no acknowledged message across a READONLY failover and a reset failover', async () => {
    const result = await runFailoverDrill({ ...FAILOVER_SHORT, minReplicaAcks: 1 });
    const f = result.figures;
    expect(f.acknowledged).toBeGreaterThan(100);
    expect(f.lost).toBe(0);
    expect(f.duplicated).toBe(0);
    expect(f.gaveUp).toBe(0);
    expect(result.seqCountersIntact).toBe(true);
    expect(f.delivered + f.recovered + f.own).toBe(f.expected);
    expect(result.failovers).toHaveLength(2);
    // Sends go through again within 5 s of a failover's start (plus what this machine adds to any
    // request); a failover the store never recovers from leaves it undefined.
    expect(result.recoverMs).toBeLessThan(withMachineDelay(5000, result.machineDelayMs));
  }, 180_000);
});
