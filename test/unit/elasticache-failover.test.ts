/**
 * The deployed-stage failover trigger against recorded-shape DescribeReplicationGroups answers: when it
 * asks for TestFailover, and when it calls the failover complete. No network: a stand-in `send`.
 */
import {
  DescribeReplicationGroupsCommand,
  type ReplicationGroup,
  TestFailoverCommand,
} from '@aws-sdk/client-elasticache';
import { ElastiCacheFailoverTrigger, groupState } from '../../drills/support/elasticache-failover';

function group(status: string, primary: string | undefined, failover = 'enabled'): ReplicationGroup {
  const members = ['classroom-001', 'classroom-002'].map((id, i) => ({
    CacheClusterId: id,
    CacheNodeId: '0001',
    CurrentRole: id === primary ? 'primary' : 'replica',
    PreferredAvailabilityZone: `eu-west-1${'ab'[i]}`,
  }));
  return {
    ReplicationGroupId: 'classroom',
    Status: status,
    AutomaticFailover: failover as ReplicationGroup['AutomaticFailover'],
    MultiAZ: 'enabled',
    NodeGroups: [{ NodeGroupId: '0001', Status: status, NodeGroupMembers: members }],
  };
}

/** A stand-in client answering DescribeReplicationGroups from a script, recording every command. */
function client(script: ReplicationGroup[]) {
  const sent: unknown[] = [];
  let i = 0;
  return {
    sent,
    send: async (command: unknown) => {
      sent.push(command);
      if (command instanceof DescribeReplicationGroupsCommand) {
        const answer = script[Math.min(i++, script.length - 1)];
        return { ReplicationGroups: [answer] };
      }
      if (command instanceof TestFailoverCommand) return { ReplicationGroup: script[i] };
      throw new Error(`unexpected command ${String(command)}`);
    },
  };
}

const fastClock = () => {
  let t = 0;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
  };
};

describe('Function: groupState', () => {
  it('finds the primary and the replicas of the first node group', () => {
    expect(groupState(group('available', 'classroom-001'))).toEqual({
      status: 'available',
      nodeGroupId: '0001',
      primary: 'classroom-001',
      replicas: ['classroom-002'],
      automaticFailover: 'enabled',
    });
  });

  it('throws on an answer without the group', () => {
    expect(() => groupState(undefined)).toThrow('no replication group');
  });
});

describe('Class: ElastiCacheFailoverTrigger', () => {
  it('asks for TestFailover on the node group and completes when another member is primary and available', async () => {
    // Prepare
    const c = client([
      group('available', 'classroom-001'), // state before
      group('modifying', 'classroom-001'),
      group('modifying', undefined),
      group('available', 'classroom-002'),
    ]);
    const trigger = new ElastiCacheFailoverTrigger(c as never, {
      replicationGroupId: 'classroom',
      ...fastClock(),
    });

    // Act
    const event = await trigger.failover();

    // Assess
    const failovers = c.sent.filter((x) => x instanceof TestFailoverCommand) as TestFailoverCommand[];
    expect(failovers.map((f) => f.input)).toEqual([{ ReplicationGroupId: 'classroom', NodeGroupId: '0001' }]);
    expect(event.detail).toEqual({ old_primary: 'classroom-001', new_primary: 'classroom-002' });
    expect(event.completedAt).toBeGreaterThan(event.startedAt);
  });

  it('does not call a failover done while the group still reports the old primary as available', async () => {
    const c = client([group('available', 'classroom-001')]);
    const trigger = new ElastiCacheFailoverTrigger(c as never, {
      replicationGroupId: 'classroom',
      timeoutMs: 60_000,
      ...fastClock(),
    });
    await expect(trigger.failover()).rejects.toThrow('failover not complete within 60000 ms');
  });

  it('waits for the group to be available before a failover, and refuses one without automatic failover', async () => {
    const waiting = client([group('modifying', 'classroom-001'), group('available', 'classroom-001')]);
    await new ElastiCacheFailoverTrigger(waiting as never, {
      replicationGroupId: 'classroom',
      ...fastClock(),
    }).ready();
    expect(waiting.sent).toHaveLength(2);

    const disabled = client([group('available', 'classroom-001', 'disabled')]);
    await expect(
      new ElastiCacheFailoverTrigger(disabled as never, {
        replicationGroupId: 'classroom',
        ...fastClock(),
      }).ready(),
    ).rejects.toThrow('automatic failover is disabled');
  });
});
