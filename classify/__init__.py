"""classify: complaint text (and where it is) in, a ranked list of (agency, probability) out.

`text` (normalisation, personal-data masking), `location` (gazetteer, local offices), `model`
(the trained model), `fitting` (training it), `calibration` (honest confidence), `suggest`
(scores to suggestions), `fastfeatures` (fast features), `persist` (skops files), `dataset` and
`training` (an office's CSV), `corrections` (coordinators' decisions), `registry` and `holder`
(the store's models, hot swap), `evaluation`, `figures`, `plots` (`muara evaluate`), `starter`
(the bundled default), `stage` (the classify stage), `cli`, `errors`. Nothing is re-exported
here: `import muara.classify.text` must stay cheap for logging code, and importing this package
would otherwise pull in scikit-learn.
"""
