// Cache keys for Heed's types. Heed's ids are the ids people know (a flow's id, a step's id
// from the writers' front matter), so an id alone is not unique in a client cache:
// - a flow is served in several locales: key it by id AND locale;
// - a step id is unique only within its flow, and its title depends on the locale: steps are
//   not normalized, they stay inside their flow (keyed as above);
// - a content item differs by requested locale and revision.
// Always select the key fields (Flow: id locale; ContentItem: id requestedLocale revision).

/** The types of the `ContentItem` interface (schema.graphql). */
export const CONTENT_TYPES = ["ContentDocument", "FlowContent", "Survey", "Announcement"];

/** Apollo Client: `new InMemoryCache({ typePolicies: heedTypePolicies })`. */
export const heedTypePolicies = {
  Flow: {
    keyFields: ["id", "locale"],
    fields: {
      // Steps belong to their flow: a newer answer replaces them.
      steps: { merge: false },
      nextStep: { merge: false },
    },
  },
  Step: { keyFields: false },
  // ContentItem is an interface: each of its types is keyed the same way.
  ...Object.fromEntries(
    CONTENT_TYPES.map((type) => [type, { keyFields: ["id", "requestedLocale", "revision"] }]),
  ),
  Viewer: { keyFields: [], merge: true },
};

/** urql graphcache: `cacheExchange({ keys: heedGraphcacheKeys })`. */
export const heedGraphcacheKeys = {
  Flow: (flow) => `${flow.id}|${flow.locale}`,
  Step: () => null,
  ...Object.fromEntries(
    CONTENT_TYPES.map((type) => [type, (item) => `${item.id}|${item.requestedLocale}|${item.revision}`]),
  ),
  Viewer: () => "viewer",
  Progress: () => null,
  SearchHit: () => null,
  StepPayload: () => null,
  RequestHelpPayload: () => null,
  UserError: () => null,
  ProgressEvent: () => null,
  Release: (release) => String(release.number),
};
