"""The task centre (任务营销): daily, weekly and one-off tasks counting members' events toward targets."""
