"""An environment whose constructor fails, as a user's bug would."""


class ExplodingEnv:
    def __init__(self, config):
        raise ValueError(f"missing map file {config.get('map', 'level1.txt')}")
