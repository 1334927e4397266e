// Heed's own schema conventions, as ESLint rules over schema.graphql (graphql-eslint parser).
// Each rule names the field and says what to do, so the next field follows the convention.
import {
  buildSchema,
  getNamedType,
  isEnumType,
  isListType,
  isNonNullType,
  isObjectType,
  isInterfaceType,
  typeFromAST,
} from "graphql";

// Each rule reads types from the document it lints (built once per document), so it checks
// exactly the SDL it is given.
const schemas = new WeakMap();

function schemaOf(context) {
  const { ast, text } = context.sourceCode;
  if (!schemas.has(ast)) schemas.set(ast, buildSchema(text, { assumeValidSDL: true }));
  return schemas.get(ast);
}

/** The schema coordinate of a field or argument: `Type.field` or `Type.field(arg:)`. */
function coordinate(node) {
  const parent = node.parent;
  if (node.kind === "InputValueDefinition" && parent.kind === "FieldDefinition") {
    return `${parent.parent.name.value}.${parent.name.value}(${node.name.value}:)`;
  }
  return `${parent.name.value}.${node.name.value}`;
}

function typeOf(context, node) {
  return typeFromAST(schemaOf(context), node.rawNode().type);
}

function check(context, node, message) {
  const type = typeOf(context, node);
  if (type !== undefined) message(type);
}

const fieldsAndArguments = (visit) => ({
  FieldDefinition: visit,
  InputValueDefinition: visit,
});

/** A field named like a closed set of values (status, state, kind…) must be an enum. */
const closedSetsAreEnums = {
  meta: {
    type: "problem",
    docs: { description: "Fields named like a closed set of values are enums." },
    schema: [
      {
        type: "object",
        properties: {
          names: { type: "string" },
          allowed: { type: "array", items: { type: "string" } },
        },
        additionalProperties: false,
      },
    ],
  },
  create(context) {
    const { names, allowed = [] } = context.options[0] ?? {};
    const pattern = new RegExp(names);
    return fieldsAndArguments((node) => {
      if (!pattern.test(node.name.value) || allowed.includes(coordinate(node))) return;
      check(context, node, (type) => {
        if (!isEnumType(getNamedType(type))) {
          context.report({
            node: node.name,
            message: `${coordinate(node)} names a closed set of values: make it an enum (a domain enum exposed with strawberry.enum), not ${getNamedType(type).name}`,
          });
        }
      });
    });
  },
};

/** A field named like a moment (…At, starts, ends, since, until) must be a DateTime. */
const datesAreDateTime = {
  meta: {
    type: "problem",
    docs: { description: "Moments are DateTime." },
    schema: [
      {
        type: "object",
        properties: { names: { type: "string" } },
        additionalProperties: false,
      },
    ],
  },
  create(context) {
    const pattern = new RegExp(context.options[0]?.names);
    return fieldsAndArguments((node) => {
      if (!pattern.test(node.name.value)) return;
      check(context, node, (type) => {
        if (getNamedType(type).name !== "DateTime") {
          context.report({
            node: node.name,
            message: `${coordinate(node)} is a moment: make it a DateTime, not ${getNamedType(type).name}`,
          });
        }
      });
    });
  },
};

/** JSON only where the data is genuinely open; anything with a known shape gets a type. */
const jsonOnlyWhereOpen = {
  meta: {
    type: "problem",
    docs: { description: "JSON only for the listed open fields." },
    schema: [
      {
        type: "object",
        properties: { open: { type: "array", items: { type: "string" } } },
        additionalProperties: false,
      },
    ],
  },
  create(context) {
    const open = new Set(context.options[0]?.open ?? []);
    return fieldsAndArguments((node) => {
      check(context, node, (type) => {
        if (getNamedType(type).name === "JSON" && !open.has(coordinate(node))) {
          context.report({
            node: node.name,
            message: `${coordinate(node)} is JSON: give its shape an object type (or, if the data is genuinely open, add it to the 'open' list in tools/codegen/eslint.config.mjs)`,
          });
        }
      });
    });
  },
};

/** A list of objects must be a connection unless it is known to stay small. */
const listsAreConnections = {
  meta: {
    type: "problem",
    docs: { description: "Lists of objects are Relay connections unless bounded." },
    schema: [
      {
        type: "object",
        properties: { bounded: { type: "object", additionalProperties: { type: "string" } } },
        additionalProperties: false,
      },
    ],
  },
  create(context) {
    const bounded = context.options[0]?.bounded ?? {};
    return {
      FieldDefinition(node) {
        const owner = node.parent.name.value;
        if (owner.endsWith("Connection") || coordinate(node) in bounded) return;
        if (`*.${node.name.value}` in bounded) return;
        check(context, node, (type) => {
          const list = isNonNullType(type) ? type.ofType : type;
          const item = getNamedType(type);
          if (isListType(list) && (isObjectType(item) || isInterfaceType(item))) {
            context.report({
              node: node.name,
              message: `${coordinate(node)} is a list of ${item.name}: if it grows with an organization make it a connection (first/after, a page at most MAX_PAGE); if it stays small, add it to 'bounded' in tools/codegen/eslint.config.mjs with the reason`,
            });
          }
        });
      },
    };
  },
};

/** Every field of the root types says what it does (graphql-eslint's `rootField` option
 * misses them when the schema has more than one root type). */
const rootFieldsAreDescribed = {
  meta: {
    type: "problem",
    docs: { description: "Root fields have descriptions." },
    schema: [],
  },
  create(context) {
    return {
      FieldDefinition(node) {
        const schema = schemaOf(context);
        const roots = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()];
        const owner = node.parent.name.value;
        if (roots.some((root) => root?.name === owner) && !node.rawNode().description?.value.trim()) {
          context.report({
            node: node.name,
            message: `${coordinate(node)} needs a description: say what it answers or does, and who may call it`,
          });
        }
      },
    };
  },
};

export default {
  meta: { name: "heed" },
  rules: {
    "closed-sets-are-enums": closedSetsAreEnums,
    "dates-are-datetime": datesAreDateTime,
    "json-only-where-open": jsonOnlyWhereOpen,
    "lists-are-connections": listsAreConnections,
    "root-fields-are-described": rootFieldsAreDescribed,
  },
};
