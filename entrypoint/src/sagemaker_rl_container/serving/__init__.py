"""SageMaker hosting: `serve` answers GET /ping and POST /invocations on port 8080 with actions
from the policy a training job exported into /opt/ml/model."""
