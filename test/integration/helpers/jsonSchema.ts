/**
 * A small JSON Schema checker for the schemas fcp ships (docs/job.schema.json): type (one or a
 * list), enum, required, properties, items, minimum, maximum, pattern, oneOf and local $ref.
 * Returns every problem found, with its path; [] when the value fits.
 */
export interface Schema {
  type?: string | string[];
  enum?: unknown[];
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  oneOf?: Schema[];
  $ref?: string;
  $defs?: Record<string, Schema>;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

export function schemaProblems(value: unknown, schema: Schema, root: Schema = schema, at = '$'): string[] {
  if (schema.$ref) return schemaProblems(value, root.$defs![schema.$ref.replace('#/$defs/', '')]!, root, at);
  if (schema.oneOf) {
    const fits = schema.oneOf.filter((option) => schemaProblems(value, option, root, at).length === 0).length;
    return fits === 1 ? [] : [`${at}: fits ${fits} of oneOf's ${schema.oneOf.length} schemas`];
  }
  const problems: string[] = [];
  const actual = typeOf(value);
  const types = schema.type === undefined ? undefined : [schema.type].flat();
  if (types && !types.includes(actual) && !(actual === 'integer' && types.includes('number'))) return [`${at}: ${actual}, not ${types.join(' or ')}`];
  if (schema.enum && !schema.enum.includes(value)) problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${at}: ${value} < ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${at}: ${value} > ${schema.maximum}`);
  }
  if (typeof value === 'string' && schema.pattern && !new RegExp(schema.pattern).test(value)) problems.push(`${at}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
  if (actual === 'object') {
    const record = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in record)) problems.push(`${at}.${key}: missing`);
    for (const [key, sub] of Object.entries(schema.properties ?? {})) if (key in record) problems.push(...schemaProblems(record[key], sub, root, `${at}.${key}`));
  }
  if (Array.isArray(value) && schema.items) value.forEach((item, i) => problems.push(...schemaProblems(item, schema.items!, root, `${at}[${i}]`)));
  return problems;
}
