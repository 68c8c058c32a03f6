"""The Functions app: wiring only. One queue-triggered function per classifier of the catalogue, plus the HTTP API."""

import logging

import azure.functions as func

from classifiers.catalogue import CATALOGUE
from dashboard import dashboard_blueprint
from dashboard.forget import forget_blueprint
from dashboard.people_api import people_blueprint
from pipeline.api import dependencies_blueprint
from pipeline.forget.timer import retention_blueprint
from pipeline.functions import classifier_blueprint, step_runner
from pipeline.root import Root

logging.getLogger("azure").setLevel(logging.WARNING)

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
root = Root()  # the settings, storage, database, dependency graph and models of this worker process
runner = step_runner(root=root)

for spec in CATALOGUE:
    app.register_functions(classifier_blueprint(spec.name, spec.build, runner))
app.register_functions(dependencies_blueprint(root.dependencies))
app.register_functions(dashboard_blueprint(root=root))
app.register_functions(forget_blueprint(root=root))
app.register_functions(retention_blueprint(root=root))
app.register_functions(people_blueprint(root=root))
