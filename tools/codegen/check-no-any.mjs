// Fails when a generated type of Heed's own data is `any`, so a field that loses its type
// (a JSON field, an unmapped scalar) cannot slip into the schema unnoticed.
//
//   node check-no-any.mjs generated/schema.ts generated/operations.ts
//
// Every type alias the generator wrote is walked with the TypeScript checker, through unions,
// arrays and nested objects. An `any` is allowed only on the genuinely open fields below:
// for a schema type by its coordinate (`Step.bodyTree`), for an operation's anonymous
// selection by the field's name.
import { fileURLToPath } from "node:url";
import ts from "typescript";

export const OPEN_FIELDS = [
  "ContentItem.bodyTree",
  "ContentDocument.bodyTree",
  "FlowContent.bodyTree",
  "Survey.bodyTree",
  "Announcement.bodyTree",
  "Step.bodyTree",
  "ContentStep.bodyTree", // a flow's step as written (the content API on main)
  "TrackInput.properties",
  "WebhookCatalogueEntry.schema", // a JSON Schema document, open by nature
  "SurveyAnswer.value", // an NPS or CSAT number, an option, options or a text
  "SurveyAnswerInput.value",
];

const OPERATION_TYPE = /.(Query|Mutation|Subscription|Fragment|Variables)$/;

/** The `any`s of a generated file outside the open fields, as `Type.field (path)` lines. */
export function findAny(file, openFields = OPEN_FIELDS) {
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  if (source === undefined) throw new Error(`cannot read ${file}`);
  const coordinates = new Set(openFields);
  const names = new Set(openFields.map((c) => c.split(".")[1]));
  const seen = new Set();
  const found = [];

  // A schema type's name; operations' and fragments' own types count as selections.
  const nameOf = (type) => {
    const name = type.aliasSymbol?.name ?? type.symbol?.name;
    if (!name || name.startsWith("__") || OPERATION_TYPE.test(name)) return undefined;
    return name;
  };

  const walk = (type, path, owner, field) => {
    if (type.flags & ts.TypeFlags.Any) {
      const allowed = owner ? coordinates.has(`${owner}.${field}`) : names.has(field);
      if (!allowed) found.push(`${owner ?? "(selection)"}.${field ?? ""} at ${path}`);
      return;
    }
    if (type.isUnionOrIntersection()) {
      for (const member of type.types) walk(member, path, owner, field);
      return;
    }
    if (!(type.flags & ts.TypeFlags.Object) || seen.has(type)) return;
    seen.add(type);
    if (checker.isArrayType(type) || checker.isTupleType(type)) {
      for (const element of checker.getTypeArguments(type)) walk(element, `${path}[]`, owner, field);
      return;
    }
    const name = nameOf(type);
    for (const property of checker.getPropertiesOfType(type)) {
      const propertyType = checker.getTypeOfSymbolAtLocation(property, source);
      walk(propertyType, `${path}.${property.name}`, name, property.name);
    }
    for (const index of checker.getIndexInfosOfType(type)) {
      walk(index.type, `${path}[key]`, name, "[key]");
    }
  };

  for (const statement of source.statements) {
    if (!ts.isTypeAliasDeclaration(statement) || statement.typeParameters) continue;
    const alias = statement.name.text;
    if (alias === "Scalars") continue; // the scalar map itself: checked where it is used
    walk(checker.getTypeAtLocation(statement.name), alias, undefined, undefined);
  }
  return [...new Set(found)];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let failed = false;
  for (const file of process.argv.slice(2)) {
    const found = findAny(file);
    if (found.length === 0) continue;
    failed = true;
    console.error(`${file}: generated types are \`any\` outside the open fields:`);
    for (const line of found) console.error(`  ${line}`);
  }
  if (failed) {
    console.error(
      "Give the field a precise type in the schema (an object type, an enum, DateTime), or, if" +
        " its data is genuinely open, add it to OPEN_FIELDS in tools/codegen/check-no-any.mjs.",
    );
    process.exit(1);
  }
}
