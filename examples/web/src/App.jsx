import { useApolloClient, useMutation, useQuery, useSubscription } from "@apollo/client/react";
import { useState } from "react";
import { describeError, isAuthError } from "./client.js";
import { LOCALES, words } from "./i18n.js";
import { ASK, COMPLETE, ONBOARDING, PROGRESS, SEARCH, SKIP } from "./operations.js";

// The screen this page stands for: Heed returns the help articles attached to it.
const SCREEN = "dashboard";

export function App({ socket }) {
  const [locale, setLocale] = useState("en");
  const t = words(locale);
  const client = useApolloClient();
  const { data, error, loading } = useQuery(ONBOARDING, {
    variables: { locale, screen: SCREEN },
    fetchPolicy: "cache-and-network",
  });
  // Anything that changes in the organization (a colleague completes a step, asks for help)
  // arrives here; the page asks for its data again, so every status stays right.
  useSubscription(PROGRESS, {
    skip: Boolean(error),
    onData: () => client.refetchQueries({ include: [ONBOARDING] }),
  });

  if (error && isAuthError(error)) {
    return <Refused t={t} reason={describeError(error)} />;
  }
  if (socket.refused) return <Refused t={t} reason={socket.refused} />;
  if (error) return <p className="notice error" role="alert">{describeError(error)}</p>;
  if (!data) return <p className="notice">{t.loading}</p>;

  const { viewer, flows, help } = data;
  return (
    <main lang={locale}>
      <header>
        <div>
          {t.signedInAs} <strong data-testid="member">{viewer.member.name ?? viewer.member.id}</strong>
          {" · "}
          {viewer.organization.name ?? viewer.organization.id}
        </div>
        <LocaleSwitch locale={locale} onChange={setLocale} t={t} />
        <span className={socket.live ? "live on" : "live"} data-testid="live" data-live={socket.live}>
          {socket.live ? t.live : t.liveOff}
        </span>
      </header>
      {loading && <p className="notice">{t.loading}</p>}
      <RequestsForMe requests={viewer.helpRequests} flows={flows} t={t} />
      <section>
        <h1>{t.checklist}</h1>
        {flows.map((flow) => (
          <Checklist key={flow.id} flow={flow} viewer={viewer} t={t} />
        ))}
      </section>
      <aside>
        <h2>{t.help}</h2>
        <ul data-testid="help">
          {help.map((item) => (
            <li key={item.id}>
              <strong>{item.title}</strong>
              <p>{item.summary}</p>
            </li>
          ))}
        </ul>
        <Search locale={locale} t={t} />
      </aside>
    </main>
  );
}

function Refused({ t, reason }) {
  return (
    <div className="notice error" role="alert" data-testid="auth-error">
      <strong>{t.badToken}:</strong> {reason}. {t.badTokenHint}
    </div>
  );
}

function LocaleSwitch({ locale, onChange, t }) {
  return (
    <label>
      {t.language}{" "}
      <select value={locale} onChange={(event) => onChange(event.target.value)} data-testid="locale">
        {LOCALES.map(({ code, label }) => (
          <option key={code} value={code}>{label}</option>
        ))}
      </select>
    </label>
  );
}

function RequestsForMe({ requests, flows, t }) {
  const open = requests.filter((request) => request.status === "OPEN");
  if (!open.length) return null;
  // Step titles from the checklist, so that they follow the locale chosen on this page.
  const titleOf = (request) =>
    flows.find((f) => f.id === request.flowId)?.steps.find((s) => s.id === request.stepId)
      ?.title ?? request.stepTitle;
  return (
    <section className="requests" data-testid="requests-for-me">
      <h2>{t.requestsForYou}</h2>
      <ul>
        {open.map((request) => (
          <li key={request.id}>
            <strong>{titleOf(request)}</strong> {t.from} {request.inviter?.name ?? request.inviter?.id}
            {request.message && <q>{request.message}</q>}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Checklist({ flow, viewer, t }) {
  return (
    <article className="flow" data-flow={flow.id}>
      <h2 data-testid="flow-title">{flow.title}</h2>
      <p>{flow.summary}</p>
      <progress max={flow.progress.total} value={flow.progress.done} />{" "}
      <span data-testid="progress">
        {flow.progress.done}/{flow.progress.total} {t.done}
      </span>
      <ol>
        {flow.steps.map((step) => (
          <StepRow key={step.id} flow={flow} step={step} viewer={viewer} t={t} />
        ))}
      </ol>
    </article>
  );
}

function StepRow({ flow, step, viewer, t }) {
  const input = { flowId: flow.id, stepId: step.id };
  const refetch = { refetchQueries: [ONBOARDING], awaitRefetchQueries: true };
  const [complete, completing] = useMutation(COMPLETE, refetch);
  const [skip, skipping] = useMutation(SKIP, refetch);
  const problem = [completing.data?.completeStep, skipping.data?.skipStep]
    .flatMap((payload) => payload?.userErrors ?? [])
    .map((e) => e.message)[0];
  const canAct = step.status === "AVAILABLE" || step.status === "SKIPPED";
  const sent = viewer.sentHelpRequests.filter(
    (r) => r.flowId === flow.id && r.stepId === step.id && r.status === "OPEN",
  );
  return (
    <li data-step={step.id} data-status={step.status} className={`step ${step.status}`}>
      <span className="status" data-testid="status">{t.status[step.status]}</span>{" "}
      <span className="title" data-testid="step-title">{step.title}</span>
      {step.roles.length > 0 && <small className="roles"> ({step.roles.join(", ")})</small>}
      <div className="actions">
        {canAct && (
          <button type="button" onClick={() => complete({ variables: { input } })}>
            {t.complete}
          </button>
        )}
        {step.status === "AVAILABLE" && step.skippable && (
          <button type="button" onClick={() => skip({ variables: { input } })}>
            {t.skip}
          </button>
        )}
        {step.status === "NEEDS_ROLE" && step.skippable && (
          <button type="button" onClick={() => skip({ variables: { input } })}>
            {t.skip}
          </button>
        )}
      </div>
      {problem && <p className="error" role="alert">{problem}</p>}
      {step.status === "NEEDS_ROLE" && (
        <NeedsRole flow={flow} step={step} sent={sent} t={t} />
      )}
    </li>
  );
}

function NeedsRole({ flow, step, sent, t }) {
  const [who, setWho] = useState(step.candidates[0]?.id ?? "");
  const [message, setMessage] = useState("");
  const [ask, asking] = useMutation(ASK, { refetchQueries: [ONBOARDING] });
  if (!step.candidates.length) return <p className="hint">{t.nobodyYet}</p>;
  const problem = asking.data?.requestHelp.userErrors[0]?.message;
  return (
    <div className="needs-role">
      <p>
        {t.canDo}: {step.candidates.map((m) => m.name ?? m.id).join(", ")}
      </p>
      {sent.length > 0 ? (
        <p data-testid="asked">
          {t.asked} {sent.map((r) => r.invitee?.name ?? r.invitee?.id).join(", ")}
        </p>
      ) : (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            ask({ variables: { input: { flowId: flow.id, stepId: step.id, memberId: who, message } } });
          }}
        >
          <strong>{t.ask}</strong>{" "}
          <label>
            {t.askWho}{" "}
            <select value={who} onChange={(event) => setWho(event.target.value)}>
              {step.candidates.map((m) => (
                <option key={m.id} value={m.id}>{m.name ?? m.id}</option>
              ))}
            </select>
          </label>{" "}
          <label>
            {t.askMessage} <input value={message} onChange={(e) => setMessage(e.target.value)} />
          </label>{" "}
          <button type="submit" disabled={asking.loading}>{t.askSend}</button>
          {problem && <p className="error" role="alert">{problem}</p>}
        </form>
      )}
    </div>
  );
}

function Search({ locale, t }) {
  const [text, setText] = useState("");
  const { data } = useQuery(SEARCH, {
    variables: { query: text, locale },
    skip: text.trim().length < 2,
  });
  return (
    <div className="search">
      <h2>{t.search}</h2>
      <input
        type="search"
        value={text}
        placeholder={t.searchPlaceholder}
        onChange={(event) => setText(event.target.value)}
        data-testid="search"
      />
      {data && (
        <ul data-testid="search-results">
          {data.searchHelp.length === 0 && <li>{t.noResults}</li>}
          {data.searchHelp.map((hit) => (
            <li key={hit.item.id}>
              <strong>{hit.item.title}</strong>
              {/* Heed sanitizes highlights: only <mark> around the matched words. */}
              {hit.highlight && <p dangerouslySetInnerHTML={{ __html: hit.highlight }} />}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
