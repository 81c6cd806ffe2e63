// TensorBoard's smoothing: an exponential moving average, debiased so that the first points are not
// pulled towards zero. Gaps (null) stay gaps; with a log scale, values <= 0 become gaps too.
export function smooth(values: (number | null)[], weight: number, logScale: boolean): (number | null)[] {
  const cleaned = values.map((v) => (v === null || (logScale && v <= 0) ? null : v));
  if (weight <= 0) return cleaned;
  let last = 0;
  let count = 0;
  return cleaned.map((value) => {
    if (value === null) return null;
    last = last * weight + (1 - weight) * value;
    count++;
    return last / (1 - Math.pow(weight, count));
  });
}
