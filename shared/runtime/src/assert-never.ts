/**
 * The `default` of an exhaustive `switch`: it compiles only when every member of the union is handled, and
 * throws if a value outside the union arrives anyway (a cast, data from an older version). `what` names the
 * union in the message ("budget kind", "www mode").
 */
export function assertNever(value: never, what = 'value'): never {
  throw new TypeError(`unexpected ${what} ${JSON.stringify(value)}`);
}
