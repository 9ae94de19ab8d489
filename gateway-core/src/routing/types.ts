import type { Deployment } from '../providers/types';

/** What the routing policy reads of a request: its normalized view, built once. */
export interface RoutingInput {
  /** The system prompt's text. */
  systemText: string;
  /** The text of the last user message (tool results excluded). */
  lastUserText: string;
  /** Estimated prompt tokens of everything the provider would see. */
  promptTokens: number;
  hasImages: boolean;
  hasTools: boolean;
  /** Who sent it; user and team are null until keys carry them. */
  principal: { keyId: string | null; userId: string | null; teamId: string | null };
  /** Short client name from the User-Agent ("cline", "claude-code", "openai-node"), or null. */
  client: string | null;
  /** When the request arrived. */
  now: Date;
}

/** The alias a policy picked and why, in words a person can read. */
export interface PolicyDecision {
  alias: string;
  /** Such as "rule long-context: 48,200 tokens > 32,000". ASCII is not required here. */
  reason: string;
  /** The rule's name, or null when the fallthrough default applied. */
  rule: string | null;
}

/** LiteLLM's routing_strategy names and Airlock's short ones. */
export type RoutingStrategy = 'simple-shuffle' | 'least-busy' | 'latency-based' | 'usage-based' | 'cost-based';

/** Per-deployment limits and weight from litellm_params. */
export interface DeploymentLimits {
  /** Relative weight for weighted shuffle; default 1. */
  weight: number;
  /** Requests per minute; null for no limit. */
  rpm: number | null;
  /** Tokens per minute; null for no limit. */
  tpm: number | null;
}

export type { Deployment };
