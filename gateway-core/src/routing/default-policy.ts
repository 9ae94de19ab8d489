import type { Deployment } from '../providers/types';
import type { RoutingRuleConfig } from './policy-schema';

/**
 * The rules used when `airlock.routing.rules` is missing. Expensive work is checked first, so a
 * long prompt or an architecture question that also contains "translate" or "css" still goes to the
 * strongest model. Keywords are read in the last user message only, because IDE agents send long
 * system prompts that mention almost every topic.
 */
export const defaultRules: readonly RoutingRuleConfig[] = [
  // A prompt of more than 32,000 estimated tokens needs the largest context window and the best
  // recall, and most cheap or local models cannot hold it at all.
  {
    name: 'long-context',
    when: { min_prompt_tokens: 32_000 },
    route: 'strongest',
  },
  // Architecture and design questions are where a weaker model's answer costs the most. Plain
  // "design" is left out because it also names UI work, which the boilerplate rule serves.
  {
    name: 'architecture',
    when: {
      keywords: [
        'architecture',
        'architectural',
        'system design',
        'software design',
        'design doc',
        'design document',
        'design review',
        'trade-off',
        'trade-offs',
        'tradeoff',
        'tradeoffs',
        'scalability',
        'refactor the whole',
        'refactor the entire',
        'kiến trúc',
        'thiết kế hệ thống',
      ],
    },
    route: 'strongest',
  },
  // Translation of prose is easy for any model. Vietnamese uses phrases because bare "dịch" is
  // also part of "dịch vụ" (service) and "biên dịch" (compile).
  {
    name: 'translation',
    when: {
      keywords: [
        'translate',
        'translation',
        'translator',
        'dịch sang',
        'dịch giúp',
        'dịch đoạn',
        'bản dịch',
        'phiên dịch',
        'traducir',
        'traduce',
        'traducción',
        'traduire',
        'traduis',
        'traduction',
        'übersetzen',
        'übersetze',
        'übersetzung',
        'traduzir',
        'tradução',
        '翻译',
        '翻譯',
        '翻訳',
        '번역',
      ],
    },
    route: 'cheapest',
  },
  // Boilerplate web markup and styling follows well-known patterns that small models write well.
  {
    name: 'boilerplate-web',
    when: { keywords: ['html', 'css', 'scss', 'boilerplate', 'tailwind', 'tailwindcss', 'landing page'] },
    route: 'cheapest',
  },
  // A short question without tools or images is usually a quick lookup or a one-line fix.
  {
    name: 'short-question',
    when: { max_prompt_tokens: 200, has_tools: false, has_images: false },
    route: 'cheapest',
  },
];

/** Inputs to the strongest and cheapest choice for one alias. */
interface AliasRank {
  alias: string;
  /** Lowest tier of its deployments, counting an unknown tier as 0. */
  tier: number;
  /** Highest output price of its deployments in USD per 1M tokens, or null when any is unknown. */
  outputPrice: number | null;
  /** Whether every deployment runs locally or is free. */
  local: boolean;
}

/**
 * Ranks the aliases that can serve chat: exact names (no `*`) whose deployments are all chat
 * models. An alias with several deployments is ranked by its weakest and most expensive one,
 * because load balancing may send a request to any of them.
 */
function rankChatAliases(aliases: Map<string, Deployment[]>): AliasRank[] {
  const ranks: AliasRank[] = [];
  for (const [alias, deployments] of aliases) {
    if (alias.includes('*') || deployments.length === 0) continue;
    if (deployments.some((deployment) => deployment.modelInfo.mode !== 'chat')) continue;

    const tiers = deployments.map((deployment) => deployment.modelInfo.tier ?? 0);
    const prices = deployments.map((deployment) => deployment.modelInfo.prices.output);
    ranks.push({
      alias,
      tier: Math.min(...tiers),
      outputPrice: prices.some((price) => price === undefined) ? null : Math.max(...(prices as number[])),
      local: deployments.every((deployment) => deployment.destination === 'local' || deployment.modelInfo.pricing === 'free'),
    });
  }
  return ranks;
}

/** Lists the chat aliases in config order. These are the valid route targets. */
export function chatAliasNames(aliases: Map<string, Deployment[]>): string[] {
  return rankChatAliases(aliases).map((rank) => rank.alias);
}

/**
 * Picks the strongest chat alias: the highest tier, then the higher output price, then the first
 * in config order. An unknown price ranks below every known one. Returns null when no alias serves chat.
 */
export function pickStrongestAlias(aliases: Map<string, Deployment[]>): string | null {
  let best: AliasRank | null = null;
  for (const rank of rankChatAliases(aliases)) {
    if (best === null || rank.tier > best.tier || (rank.tier === best.tier && (rank.outputPrice ?? -1) > (best.outputPrice ?? -1))) {
      best = rank;
    }
  }
  return best?.alias ?? null;
}

/**
 * Picks the cheapest chat alias: local or free models first, then the lowest output price, then
 * the first in config order. An unknown price ranks after every known one, never as $0.
 * Returns null when no alias serves chat.
 */
export function pickCheapestAlias(aliases: Map<string, Deployment[]>): string | null {
  let best: AliasRank | null = null;
  for (const rank of rankChatAliases(aliases)) {
    if (best === null || cheaperThan(rank, best)) best = rank;
  }
  return best?.alias ?? null;
}

function cheaperThan(a: AliasRank, b: AliasRank): boolean {
  if (a.local !== b.local) return a.local;
  return (a.outputPrice ?? Infinity) < (b.outputPrice ?? Infinity);
}
