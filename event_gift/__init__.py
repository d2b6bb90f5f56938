"""Event-triggered gifts (事件营销: 注册有礼, 消费有礼, 生日礼, 会员日, 行为有礼)."""
