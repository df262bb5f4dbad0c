# Stands for the notebooks' copy of the old launcher, which drove Ray 1.x's Tune: if this file
# is imported instead of the image's package, the job must fail loudly.
raise ImportError("the uploaded copy of sagemaker_rl.ray_launcher was imported")
