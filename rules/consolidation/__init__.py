"""rules/consolidation"""
