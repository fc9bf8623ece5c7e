/** A price sample (SPEC section 4): at most one per symbol per second. */
export interface PriceSample {
  readonly symbol: string;
  /** Exact decimal text. */
  readonly price: string;
  /** Exchange event time, epoch ms. */
  readonly timestamp: number;
}

export const SECOND_MS = 1000;

/** The second a sample belongs to: the key that keeps one sample per symbol per second. */
export function sampleSecond(timestamp: number): number {
  return Math.floor(timestamp / SECOND_MS);
}

/** A price with its rolling 24 h figures (decimal text), as the exchange's tickers give them. */
export interface PriceQuote {
  readonly symbol: string;
  readonly price: string;
  /** Exchange event time, epoch ms. */
  readonly timestamp: number;
  readonly open24h: string;
  readonly high24h: string;
  readonly low24h: string;
  readonly volume24h: string;
  readonly quoteVolume24h: string;
}
