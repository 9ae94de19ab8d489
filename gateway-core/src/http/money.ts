/**
 * Rounding for USD amounts in management API responses. Sums of per-token prices pick up binary
 * floating-point error, such as 0.006299999999999999 for 0.0063 or -5e-18 for 0, which clients
 * would otherwise display as is.
 */

/**
 * Decimal places kept in USD amounts. The cheapest price in src/models/catalog.json is $0.005 per
 * million cached input tokens, 5e-9 per token, so 10 places show one such token's cost within 1%.
 */
export const USD_DECIMALS = 10;

/** Rounds a USD amount to USD_DECIMALS places; an amount that rounds to zero becomes 0, never -0. */
export function roundUsd(amount: number): number {
  if (!Number.isFinite(amount)) return amount;
  const rounded = Number(amount.toFixed(USD_DECIMALS));
  // -0 === 0, so this also turns -0 into 0.
  return rounded === 0 ? 0 : rounded;
}
