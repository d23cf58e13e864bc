/**
 * DynamoDB request units from item sizes, by the rules of the DynamoDB Developer Guide ("DynamoDB read and
 * write operations", "Item sizes and formats", "Condition expressions"): moto answers ReturnConsumedCapacity
 * with constants (PutItem 1, GetItem 0.5, Query 1, whatever the size), so the bench computes the units itself.
 *
 * - Item size: the UTF-8 bytes of every attribute name plus its value: a string its UTF-8 bytes, a number
 *   1 byte per two significant digits + 1, binary its bytes, boolean and null 1, a list or map 3 bytes + its
 *   elements + 1 byte each (a map's keys count as names), a set the sum of its elements.
 * - Writes (on-demand write request units, WRU): 1 per KB (1,024 bytes) of the item, rounded up, at least 1.
 *   PutItem, UpdateItem: the larger of the item before and after; DeleteItem: the deleted item; a failed
 *   condition: the existing item (1 when there is none); BatchWriteItem: each put or delete on its own.
 *   Transactional writes cost twice (the store uses none).
 * - Reads (read request units, RRU): GetItem 1 per 4 KB of the item rounded up (a missing item still 1);
 *   Query the sum of the sizes of every item read (before any filter, whatever the projection), rounded up
 *   to 4 KB once per request, at least 1. Strongly consistent as read here; eventually consistent half.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export type Item = Record<string, AttributeValue>;

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

/** Bytes of a number: 1 per two significant digits (leading and trailing zeros trimmed) + 1. */
export function numberSize(n: string): number {
  const digits = n
    .replace(/^[-+]/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '');
  const significant = digits.replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(1, significant.length) / 2) + 1;
}

export function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((s, v) => s + utf8(v), 0);
  if (value.NS !== undefined) return value.NS.reduce((s, v) => s + numberSize(v), 0);
  if (value.BS !== undefined) return value.BS.reduce((s, v) => s + v.byteLength, 0);
  if (value.L !== undefined) return 3 + value.L.reduce((s, v) => s + valueSize(v) + 1, 0);
  if (value.M !== undefined)
    return 3 + Object.entries(value.M).reduce((s, [k, v]) => s + utf8(k) + valueSize(v) + 1, 0);
  return 0;
}

/** Bytes of an item as DynamoDB counts them (names + values, keys included). */
export function itemSize(item: Item | undefined): number {
  if (!item) return 0;
  return Object.entries(item).reduce((s, [name, value]) => s + utf8(name) + valueSize(value), 0);
}

export const WRITE_UNIT_BYTES = 1024;
export const READ_UNIT_BYTES = 4096;

/** Write units of one write touching an item of `before` and `after` bytes (0: absent). */
export function writeUnits(before: number, after: number): number {
  return Math.max(1, Math.ceil(Math.max(before, after) / WRITE_UNIT_BYTES));
}

/** Read units of one GetItem or one Query request reading `bytes` in total. */
export function readUnits(bytes: number, consistent = true): number {
  const units = Math.max(1, Math.ceil(bytes / READ_UNIT_BYTES));
  return consistent ? units : units / 2;
}
