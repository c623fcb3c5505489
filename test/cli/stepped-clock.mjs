// Preloaded into a CLI under test (`node --import`): the process's Date.now is the real clock plus
// an offset that each SIGUSR2 moves on by SWITCHBOARD_TEST_CLOCK_STEP_MS, so a test moves the time a
// command waits by hand (the CLI has no clock to inject) instead of waiting it out.
const step = Number(process.env.SWITCHBOARD_TEST_CLOCK_STEP_MS);
if (!(step > 0)) throw new Error('stepped-clock: set SWITCHBOARD_TEST_CLOCK_STEP_MS to a positive number of milliseconds');
const real = Date.now;
let offset = 0;
Date.now = () => real() + offset;
process.on('SIGUSR2', () => {
  offset += step;
});
