import { roundsSpread } from '../../scripts/bench/report';

// A ratio the bench measures once a round: its mean with the 95% interval of that mean (Student's t
// over the rounds), so that a run's mean is read with how little three rounds can say.

describe('the spread of a ratio over rounds', () => {
  it("gives the mean, its 95% interval by Student's t, the standard deviation and the range", () => {
    // mean 0.7833, standard deviation 0.1222, t(2) = 4.303: 4.303 × 0.1222 / √3 = 0.304
    expect(roundsSpread([0.65, 0.81, 0.89])).toBe('mean 0.78 ± 0.30 (95%, 3 rounds), standard deviation 0.12, from 0.65 to 0.89');
  });

  it('narrows with more rounds of the same spread', () => {
    const six = [0.65, 0.81, 0.89, 0.65, 0.81, 0.89];
    // standard deviation 0.1093, t(5) = 2.571: 2.571 × 0.1093 / √6 = 0.115
    expect(roundsSpread(six)).toBe('mean 0.78 ± 0.11 (95%, 6 rounds), standard deviation 0.11, from 0.65 to 0.89');
  });

  it('uses the quantile at 30 degrees of freedom past them, which errs wide', () => {
    const many = Array.from({ length: 101 }, (_, i) => (i % 2 === 0 ? 0.7 : 0.8));
    // standard deviation 0.0502, t(30) = 2.042: 2.042 × 0.0502 / √101 = 0.0102
    expect(roundsSpread(many)).toBe('mean 0.75 ± 0.01 (95%, 101 rounds), standard deviation 0.05, from 0.7 to 0.8');
  });

  it('claims no spread from one round', () => {
    expect(roundsSpread([0.74])).toBe('mean 0.74 (one round: no spread), from 0.74 to 0.74');
  });
});
