/**
 * Mean Kinetic Temperature (USP <1160>): the single temperature that would cause the
 * same total thermal degradation as the observed temperature history.
 *
 *   Tk = (ΔH/R) / -ln( Σ tᵢ·e^(-ΔH/(R·Tᵢ)) / Σ tᵢ )
 *
 * with Tᵢ in kelvin, tᵢ the time each temperature held, ΔH the activation energy
 * (83.144 kJ/mol by default) and R = 8.3144598 J/(mol·K). Result in °C.
 */
import { LedgerError } from '../errors';
import { DEFAULT_ACTIVATION_ENERGY_KJ, GAS_CONSTANT, KELVIN_OFFSET } from './terms';

export interface MktSample {
  celsius: number;
  /** How long this temperature held; weights the sample. */
  seconds: number;
}

/** ΔH/R in kelvin for an activation energy in kJ/mol. */
export function arrheniusKelvin(activationEnergyKJ: number): number {
  return (activationEnergyKJ * 1000) / GAS_CONSTANT;
}

function bad(message: string): LedgerError {
  return new LedgerError('ERR_INVALID_ARGUMENT', message);
}

export function meanKineticTemperature(samples: readonly MktSample[], activationEnergyKJ = DEFAULT_ACTIVATION_ENERGY_KJ): number {
  if (!Number.isFinite(activationEnergyKJ) || activationEnergyKJ <= 0) throw bad('activation energy must be a positive number');
  if (!Array.isArray(samples) || samples.length === 0) throw bad('MKT needs at least one sample');
  const c = arrheniusKelvin(activationEnergyKJ);
  const list: readonly MktSample[] = samples;
  // Log-sum-exp: the Arrhenius factors of cold samples underflow a double when taken directly.
  const terms: { seconds: number; e: number }[] = [];
  let total = 0;
  let top = -Infinity;
  for (const [i, s] of list.entries()) {
    if (!s || !Number.isFinite(s.celsius) || s.celsius <= -KELVIN_OFFSET)
      throw bad(`sample ${i}: celsius must be a finite temperature above absolute zero`);
    if (!Number.isFinite(s.seconds) || s.seconds < 0) throw bad(`sample ${i}: seconds must be a finite number >= 0`);
    const e = -c / (s.celsius + KELVIN_OFFSET);
    terms.push({ seconds: s.seconds, e });
    total += s.seconds;
    if (s.seconds > 0 && e > top) top = e;
  }
  if (!(total > 0)) throw bad('MKT needs a total duration above zero');
  let sum = 0;
  for (const { seconds, e } of terms) if (seconds > 0) sum += seconds * Math.exp(e - top);
  const lnMean = top + Math.log(sum / total);
  return c / -lnMean - KELVIN_OFFSET;
}

/**
 * Running-sum form used by the evaluator. Each sample adds seconds·e^(c·(1/Tref - 1/T))
 * where Tref is a fixed reference (the MKT limit): the factor stays near 1 around the
 * limit, so sums neither underflow nor overflow for any plausible temperature.
 */
export function arrheniusWeight(celsius: number, referenceCelsius: number, activationEnergyKJ: number): number {
  const c = arrheniusKelvin(activationEnergyKJ);
  return Math.exp(c * (1 / (referenceCelsius + KELVIN_OFFSET) - 1 / (celsius + KELVIN_OFFSET)));
}

/**
 * Largest ΔH/(R·Tref) the evaluator's running sums use. The factor of the hottest reading is
 * below e^(ΔH/(R·Tref)), and e^680 times the seconds of the longest window stays finite; terms may
 * give up to 700 at their limit (validateTerms), where ten days at a hot reading overflowed.
 */
const MAX_REFERENCE_EXPONENT = 680;

/**
 * The reference temperature (°C) of the evaluator's running sums for an MKT limit: the limit
 * itself (the factor near 1 around it), unless the limit is so cold for this activation energy
 * that a hot reading's factor could overflow the sums; then the temperature where ΔH/(R·T) is 680.
 */
export function mktReference(limitCelsius: number, activationEnergyKJ: number): number {
  const c = arrheniusKelvin(activationEnergyKJ);
  return c / (limitCelsius + KELVIN_OFFSET) <= MAX_REFERENCE_EXPONENT ? limitCelsius : c / MAX_REFERENCE_EXPONENT - KELVIN_OFFSET;
}

/** MKT in °C from Σ seconds·arrheniusWeight and Σ seconds; undefined when nothing accrued. */
export function mktFromSums(weightedSeconds: number, seconds: number, referenceCelsius: number, activationEnergyKJ: number): number | undefined {
  if (!(seconds > 0) || !(weightedSeconds >= 0)) return undefined;
  const c = arrheniusKelvin(activationEnergyKJ);
  const tk = c / (c / (referenceCelsius + KELVIN_OFFSET) - Math.log(weightedSeconds / seconds));
  return tk - KELVIN_OFFSET;
}
