import { gql } from "@apollo/client";

// The whole page in one query: who I am, my checklist, requests for me, help for this screen.
export const ONBOARDING = gql`
  query Onboarding($locale: String!, $screen: String!) {
    viewer {
      member { id name }
      organization { id name }
      roles
      helpRequests { id flowId stepId stepTitle message status inviter { id name } }
      sentHelpRequests { id flowId stepId status invitee { id name } resolvedBy { id name } }
    }
    flows(locale: $locale) {
      id
      locale
      title
      summary
      progress { done total percent }
      steps {
        id
        title
        status
        scope
        roles
        optional
        skippable
        candidates { id name }
        completedBy { id name }
      }
    }
    help(context: $screen, locale: $locale, first: 3) {
      id
      requestedLocale
      revision
      title
      summary
    }
  }
`;

export const SEARCH = gql`
  query SearchHelp($query: String!, $locale: String!) {
    searchHelp(query: $query, locale: $locale, first: 5) {
      score
      highlight
      item { id requestedLocale revision title }
    }
  }
`;

export const COMPLETE = gql`
  mutation CompleteStep($input: StepInput!) {
    completeStep(input: $input) { userErrors { code message } }
  }
`;

export const SKIP = gql`
  mutation SkipStep($input: StepInput!) {
    skipStep(input: $input) { userErrors { code message } }
  }
`;

export const ASK = gql`
  mutation AskForHelp($input: RequestHelpInput!) {
    requestHelp(input: $input) {
      helpRequest { id status invitee { id name } }
      userErrors { code message }
    }
  }
`;

export const PROGRESS = gql`
  subscription Progress {
    progressChanged { flowId stepId action memberId at }
  }
`;
