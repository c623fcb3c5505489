/**
 * The parse option for a schema that runs once per process (the config, the integrations'
 * definitions). On an object schema's first parse zod compiles a parser for its shape with
 * `new Function`, which pays off only for a schema parsed again and again: for the start-up's
 * one-shot parses it was ~13 ms of `switchboard stdio`'s time to its first answer.
 */
export const PARSED_ONCE = { jitless: true } as const;
