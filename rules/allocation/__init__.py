"""rules/allocation"""
