"""classify: complaint text in, a ranked list of (agency, probability) out, with the version.

`text` (normalisation, personal-data masking), `model` (the model and its training), `persist`
(skops files), `training` (from an office's CSV), `starter` (the bundled default), `errors`.
Nothing is re-exported here: `import muara.classify.text` must stay cheap for logging code, and
importing this package would otherwise pull in scikit-learn.
"""
