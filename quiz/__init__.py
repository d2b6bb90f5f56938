"""Quiz draws (答题抽奖): answer N random questions of the activity's bank in time; K correct
grant draw chances on a linked lottery."""
