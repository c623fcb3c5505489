/** The fuzz tests' seeded PRNG, so a failing case reproduces from its seed: the sandbox's own mulberry32. */
export { mulberry32 as prng } from '../../servers/sandbox/delivery.js';
