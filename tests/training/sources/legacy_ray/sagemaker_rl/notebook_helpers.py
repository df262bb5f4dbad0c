def greeting():
    return "helper from the uploaded sagemaker_rl copy"
