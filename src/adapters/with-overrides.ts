/**
 * `target` with some of its methods replaced, every other property read from `target` itself
 * (methods bound to it, so classes with private fields keep working). Used to wrap a port or a
 * client at one or two methods without restating the rest.
 */
export function withOverrides<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(original, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof T];
      const value: unknown = Reflect.get(original, property, original);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(original) : value;
    },
  });
}
