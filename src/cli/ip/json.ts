// iproute2's JSON output (lib/json_writer.c and lib/json_print.c as iproute2 6.1 has them): `ip -j`
// builds a value and prints it with the writer's spacing. Compact output has no spaces at all; pretty
// output (-p) indents by 4 spaces per level (arrays count as a level), breaks the line before each
// name and before a closing brace, and writes arrays as `[ a,b ]` with their elements on one line:
//
//   [ {
//           "ifindex": 1,
//           "flags": [ "LOOPBACK","UP","LOWER_UP" ],
//           ...
//       } ]

/** A JSON value as iproute2 prints it (numbers are integers; key order is insertion order). */
export type IpJson = number | bigint | string | boolean | null | readonly IpJson[] | { readonly [key: string]: IpJson | undefined };

/** jsonw_puts(): quote and escape as json_writer.c does (control characters it knows, quotes, backslashes). */
function quote(s: string): string {
  let out = '"';
  for (const c of s) {
    switch (c) {
      case '\t': out += '\\t'; break;
      case '\n': out += '\\n'; break;
      case '\r': out += '\\r'; break;
      case '\f': out += '\\f'; break;
      case '\b': out += '\\b'; break;
      case '\\': out += '\\\\'; break;
      case '"': out += '\\"'; break;
      default: out += c;
    }
  }
  return `${out}"`;
}

/** The text of `value` at nesting depth `depth`. */
function emit(value: IpJson, pretty: boolean, depth: number): string {
  const eol = (d: number): string => (pretty ? `\n${'    '.repeat(d)}` : '');
  if (value === null) return 'null';
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) {
    const items = (value as readonly IpJson[]).map((v) => emit(v, pretty, depth + 1));
    return `[${pretty ? ' ' : ''}${items.join(',')}${pretty && items.length > 0 ? ' ' : ''}]`;
  }
  const fields = Object.entries(value as Record<string, IpJson | undefined>).filter((e): e is [string, IpJson] => e[1] !== undefined);
  if (fields.length === 0) return '{}';
  const body = fields.map(([k, v]) => `${eol(depth + 1)}${quote(k)}:${pretty ? ' ' : ''}${emit(v, pretty, depth + 1)}`).join(',');
  return `{${body}${eol(depth)}}`;
}

/** new_json_obj() ... delete_json_obj(): the whole document and its final newline. */
export function formatIpJson(value: IpJson, pretty: boolean): string {
  return `${emit(value, pretty, 0)}\n`;
}
