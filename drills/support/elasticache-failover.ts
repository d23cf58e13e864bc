/**
 * A failover trigger for a deployed stage: ElastiCache `TestFailover` on the stack's replication group.
 *
 * TestFailover (cluster mode disabled: node group `0001`) promotes a replica in another AZ the way a real
 * primary failure would. It is refused while the group is not `available`, and AWS allows only a few
 * per day per group (TestFailoverNotAvailableFault): the trigger waits for `available` before asking,
 * and reports a refusal as it is. Completion is when the group is `available` again with a different
 * member in the `primary` role; the primary endpoint the functions use then points at it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DescribeReplicationGroupsCommand,
  type ElastiCacheClient,
  type ReplicationGroup,
  TestFailoverCommand,
} from '@aws-sdk/client-elasticache';
import type { FailoverEvent, FailoverTrigger } from './failover-run';

/** The part of ElastiCacheClient the trigger uses, so its logic runs against a stand-in in unit tests. */
export type ElastiCacheLike = Pick<ElastiCacheClient, 'send'>;

export interface ElastiCacheTriggerOptions {
  replicationGroupId: string;
  /** Node group to fail over (default: the group's first, `0001` when cluster mode is disabled). */
  nodeGroupId?: string;
  /** How often to poll DescribeReplicationGroups (default 5 s). */
  pollMs?: number;
  /** Give up waiting for a failover after this long (default 15 min). */
  timeoutMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface GroupState {
  status: string;
  nodeGroupId: string;
  /** CacheClusterId of the member whose CurrentRole is `primary` (undefined while none is). */
  primary: string | undefined;
  replicas: string[];
  automaticFailover: string;
}

/** The state the trigger needs from one DescribeReplicationGroups answer. */
export function groupState(group: ReplicationGroup | undefined, nodeGroupId?: string): GroupState {
  if (!group) throw new Error('DescribeReplicationGroups returned no replication group');
  const nodeGroup = nodeGroupId
    ? group.NodeGroups?.find((g) => g.NodeGroupId === nodeGroupId)
    : group.NodeGroups?.[0];
  if (!nodeGroup?.NodeGroupId) {
    throw new Error(`replication group ${group.ReplicationGroupId} has no node group ${nodeGroupId ?? ''}`);
  }
  const members = nodeGroup.NodeGroupMembers ?? [];
  return {
    status: group.Status ?? 'unknown',
    nodeGroupId: nodeGroup.NodeGroupId,
    primary: members.find((m) => m.CurrentRole === 'primary')?.CacheClusterId,
    replicas: members.filter((m) => m.CurrentRole === 'replica').map((m) => m.CacheClusterId ?? '?'),
    automaticFailover: group.AutomaticFailover ?? 'unknown',
  };
}

export class ElastiCacheFailoverTrigger implements FailoverTrigger {
  readonly name: string;
  private readonly pollMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly client: ElastiCacheLike,
    private readonly options: ElastiCacheTriggerOptions,
  ) {
    this.name = `ElastiCache replication group ${options.replicationGroupId}`;
    this.pollMs = options.pollMs ?? 5000;
    this.timeoutMs = options.timeoutMs ?? 15 * 60_000;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => sleep(ms));
  }

  async state(): Promise<GroupState> {
    const answer = await this.client.send(
      new DescribeReplicationGroupsCommand({ ReplicationGroupId: this.options.replicationGroupId }),
    );
    return groupState(answer.ReplicationGroups?.[0], this.options.nodeGroupId);
  }

  /** Waits until the group is `available` with a primary and at least one replica to promote. */
  async ready(): Promise<void> {
    const deadline = this.now() + this.timeoutMs;
    for (;;) {
      const s = await this.state();
      if (s.automaticFailover !== 'enabled') {
        throw new Error(
          `${this.name}: automatic failover is ${s.automaticFailover}; TestFailover needs it enabled`,
        );
      }
      if (s.status === 'available' && s.primary && s.replicas.length > 0) return;
      if (this.now() > deadline) {
        throw new Error(
          `${this.name}: not available with a replica within ${this.timeoutMs} ms (${s.status})`,
        );
      }
      await this.sleep(this.pollMs);
    }
  }

  async failover(): Promise<FailoverEvent> {
    const before = await this.state();
    const startedAt = this.now();
    await this.client.send(
      new TestFailoverCommand({
        ReplicationGroupId: this.options.replicationGroupId,
        NodeGroupId: before.nodeGroupId,
      }),
    );
    const deadline = startedAt + this.timeoutMs;
    let sawChange = false;
    for (;;) {
      await this.sleep(this.pollMs);
      const s = await this.state();
      if (s.status !== 'available' || s.primary !== before.primary) sawChange = true;
      if (sawChange && s.status === 'available' && s.primary && s.primary !== before.primary) {
        return {
          startedAt,
          completedAt: this.now(),
          detail: { old_primary: before.primary, new_primary: s.primary },
        };
      }
      if (this.now() > deadline) {
        throw new Error(
          `${this.name}: failover not complete within ${this.timeoutMs} ms (status ${s.status}, primary ${s.primary})`,
        );
      }
    }
  }
}
