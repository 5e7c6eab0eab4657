"""After-call work and quality review (issue 35): scorecards answered with evidence, call
metrics, wrap-up codes. `after_call.after_call(con, call_id)` is the one call-end step that batch
ingest and the live service both run on a finished call's stored utterances.

Modules: `scorecards` (YAML format, checks), `meaning` (multilingual phrase matching), `scoring`
(answers and evidence), `metrics` (talk, overtalk, silence, interruptions), `wrapup` (codes,
suggestions learnt from confirmed calls), `after_call` (the call-end step), `review` (many calls,
re-scoring), `evaluation` (agreement with a gold file).

May import: storage, config, errors, protocols and the privacy gate; heavy libraries (numpy, the
encoder, yaml) only inside functions. Imported by batch, service and the CLI.
"""
