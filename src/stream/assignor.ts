import type { GroupAssignment, GroupPartitionsAssigner, GroupPartitionsAssignments } from '@platformatic/kafka'

/**
 * The consumer group's partition assigner for pipelines with partitioned state: partition N of
 * every subscribed topic goes to the same member (one "task" per partition number, as Kafka
 * Streams assigns co-partitioned topics). A customer's user-events and customer-events share a key
 * and so a partition number, and their state lives in that partition's table: both must be read by
 * the member that holds it. Tasks are dealt round robin over the members in id order.
 */
export const taskAssigner: GroupPartitionsAssigner = (_current, members, topics, metadata) => {
  let tasks = 0
  for (const topic of topics) tasks = Math.max(tasks, metadata.topics.get(topic)?.partitionsCount ?? 0)
  const ids = [...members.keys()].sort()
  const out: GroupPartitionsAssignments[] = ids.map(memberId => ({ memberId, assignments: new Map<string, GroupAssignment>() }))
  if (out.length === 0) return out
  for (let task = 0; task < tasks; task++) {
    const member = out[task % out.length] as GroupPartitionsAssignments
    const subscribed = members.get(member.memberId)?.topics
    for (const topic of topics) {
      if (subscribed !== undefined && subscribed.length > 0 && !subscribed.includes(topic)) continue
      if (task >= (metadata.topics.get(topic)?.partitionsCount ?? 0)) continue
      let a = member.assignments.get(topic)
      if (a === undefined) member.assignments.set(topic, a = { topic, partitions: [] })
      a.partitions.push(task)
    }
  }
  return out
}
