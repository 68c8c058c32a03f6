"""The Functions app: wiring only. One queue-triggered function per classifier, plus the HTTP API."""

import logging

import azure.functions as func

from classifiers import (
    facecrop,
    facedetection,
    facematch,
    faceprint,
    generalclassification,
    ocr,
    pipelineoutput,
)
from dashboard import dashboard_blueprint
from dashboard.people_api import people_blueprint
from pipeline.api import dependencies_blueprint
from pipeline.dependencies import Dependencies
from pipeline.functions import classifier_blueprint, step_runner

logging.getLogger("azure").setLevel(logging.WARNING)

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
runner = step_runner()

app.register_functions(classifier_blueprint(generalclassification.NAME, generalclassification.build, runner))
app.register_functions(classifier_blueprint(ocr.NAME, ocr.build, runner))
app.register_functions(classifier_blueprint(facedetection.NAME, facedetection.build, runner))
app.register_functions(classifier_blueprint(facecrop.NAME, facecrop.build, runner))
app.register_functions(classifier_blueprint(faceprint.NAME, faceprint.build, runner))
app.register_functions(classifier_blueprint(facematch.NAME, facematch.build, runner))
app.register_functions(classifier_blueprint(pipelineoutput.NAME, pipelineoutput.build, runner))
app.register_functions(dependencies_blueprint(Dependencies.load()))
app.register_functions(dashboard_blueprint())
app.register_functions(people_blueprint())
