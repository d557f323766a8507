"""rules/billing"""
